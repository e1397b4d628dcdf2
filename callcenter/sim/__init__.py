"""The simulated PBX: an AMI server and a FastAGI client that speak as Asterisk 22 does.

It drives the backend only through the real TCP protocols, for the demo, the integration tests
and the load benchmarks.
"""
