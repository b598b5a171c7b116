"""The edge: defences that run in Ray Serve's HTTP proxy process, before Serve's own code
sees a request (timeouts, header limits, header bytes, request ids, one error shape)."""
