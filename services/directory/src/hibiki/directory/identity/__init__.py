"""Console identity (ADM-04): passwords, TOTP, login with lockout, sessions, API tokens, audit.

* ``passwords.py``: argon2id hashes and the password rules a city's policy asks for;
* ``totp.py``: TOTP codes (used once), the enrolment URI and QR code, recovery codes;
* ``login.py``: the login flow (password, then TOTP or a recovery code), lockout, sessions;
* ``audit.py``: appending to and verifying the tenant's hash-chained audit trail.
Storage is ``storage/identity.py``; HTTP is ``http/auth_api.py``, ``http/console_users_api.py``,
``http/audit_api.py`` and ``http/login_page.py``.
"""
