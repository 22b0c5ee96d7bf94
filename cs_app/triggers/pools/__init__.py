"""CSM pools and their queues: routing new firings to members, claiming, resolving, SLAs."""
