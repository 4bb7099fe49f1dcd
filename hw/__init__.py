"""The boundary to real hardware: USB hot-plug, serial links and USB descriptors.

Everything above this package sees frozen records and our own errors, never a
pyudev, pyserial or pyusb object. Each part is an interface with a real
default that callers pass in:

* :class:`hw.hotplug.UdevHotplug` reports tablets arriving and leaving,
* :func:`hw.serial_link.open_link` opens a byte link by address,
* :class:`hw.usb_descriptors.DescriptorReader` reads descriptors over pyusb,
* :class:`hw.worker.DeviceWorker` runs one device's I/O on its own thread.
"""
