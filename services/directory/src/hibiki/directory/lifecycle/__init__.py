"""A tenant's data across the platform (ADM-03): the export the platform operator asks the
directory for (``GET /api/v1/tenants/{tenant}/export.zip``) and ``hibiki tenant export`` runs,
gathered over the other services' APIs (never their code)."""
