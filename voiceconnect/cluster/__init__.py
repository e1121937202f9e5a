"""Several processes over Redis: the key names, the Redis hub, the Redis call store, and the switchboard of one of
several processes."""
