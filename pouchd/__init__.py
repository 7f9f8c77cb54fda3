"""pouchd: the Docker Engine API over the managers."""
