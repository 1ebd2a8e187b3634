"""memif dataplane: the _memif C extension and its Python face."""
