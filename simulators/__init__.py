"""Simulated tablet and kiosk hardware, and the harness that drives them.

The simulators present the surfaces real hardware presents: a tablet's USB
serial interface is a real pseudo-terminal that pyserial opens; its USB
device appears in a umockdev testbed, so the kiosk's pyudev code enumerates
it and hears its add and remove uevents; a pyusb backend serves its
descriptors. Product packages never import this package; they reach the
simulator only through addresses (``sim://``) and backend names (``sim``)
registered as entry points.
"""
