"""Data lifecycle (ADM-03, ADM-09): backups with generations, restore to a moment, a tenant's
export and its verified deletion, orchestrated over the services' APIs (never their code)."""
