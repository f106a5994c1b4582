"""A published version: the package's files, versions on disk, the lock, signing, DCAT, CKAN, verify."""
