"""memif dataplane: the _memif C extension and its Python face.

    dp = Dataplane(app_name="memif-agent")   # starts the C epoll thread
    dp.add_socket(1, "/run/memif/1.sock")
    dp.add_interface(1, 0, role="server", enabled=True)
    dp.fileno(); dp.events()                 # link events for asyncio
    dp.rx_burst(1, 0) -> (bytes, [lengths]); dp.tx_burst(1, 0, 0, data, lengths)
    dp.state(); dp.interface_state(1, 0); dp.set_xconnect((1, 0), (2, 0)); dp.close()

Every failure raises MemifError with a readable message. See docs/dataplane.md.
"""

from dataplane._memif import Dataplane, MemifError, codec_decode

__all__ = ["Dataplane", "MemifError", "codec_decode"]
