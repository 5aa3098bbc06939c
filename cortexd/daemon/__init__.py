"""The daemon's life: the entry point, the socket, the server, the application's parts and
their start and stop, the background services, the schedule and the routing file's reload.

`main.main` is ``cortexd``; `run.run` serves until a signal; `services.build_services`
builds what the API serves with.
"""
