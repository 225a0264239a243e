"""``make bench``: imgpipe's image code against a naive handler and pyvips (see ``bench.run``)."""
