"""Scale-out tests: the state store on PostgreSQL, shared rate limits, Celery workers."""
