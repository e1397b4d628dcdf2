"""Telephony adapters: the AMI client (panoramisk), the FastAGI server, wire ⇄ typed events."""
