"""RQ jobs. Plain functions; they raise on failure so RQ retries them."""
