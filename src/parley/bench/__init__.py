"""``parley bench``: load, latency and delivery-guarantee measurements with a same-run
baseline. The load runs in separate client processes so it is not the bottleneck."""
