"""The person's context on this machine, the layer every other package may use: the
environment cortexd reads (`environment`), where its files live (`paths`), writing them so
a reader never sees half a file (`atomic`), and the default routing file (package data).

It imports nothing of cortexd but `cortexd.errors`.
"""
