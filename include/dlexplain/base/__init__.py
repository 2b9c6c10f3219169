"""What every concept builds on: atomic files, input tables, JSON records, local processes,
scoped environment variables."""
