"""SASNet: the set transformer (``sasnet``) and its training loop (``training``)."""
