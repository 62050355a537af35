"""Contact-center reports (CC-08, CC-10), per-user call history (PBX-14) and the daily report.

Pure domain: what a report asks (``query``), the SLA targets and breaches (``sla``), the
measures computed from the store's sums (``measures``), the history rows (``history``) and the
daily report (``daily``). The SQL lives in ``storage.report_sql``.
"""
