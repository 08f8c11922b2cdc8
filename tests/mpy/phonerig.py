# Phones on real loopback TCP connections to a sim PhoneLink, for the MicroPython-side
# tests of the sim board (test_sim_hardware_heap, test_sim_phonelink): the link's
# server side without its asyncio server.
import asyncio
import socket


def listening():
    """A listening TCP socket on a free loopback port (the unix port has no
    getsockname to ask which port 0 gave): (socket, address)."""
    for port in range(43100, 43400):
        srv = socket.socket()
        addr = socket.getaddrinfo("127.0.0.1", port)[0][-1]
        try:
            srv.bind(addr)
            srv.listen(1)
            return srv, addr
        except OSError:
            srv.close()
    raise OSError("no free port")


def plug(link, srv, addr):
    """A phone connects; the link is handed the connection as its server would hand
    it: the phone's socket."""
    phone = socket.socket()
    phone.connect(addr)
    side, _ = srv.accept()
    side.setblocking(False)
    stream = asyncio.StreamWriter(side, {})
    try:
        link._serve(stream, stream).send(None)    # no awaits: it completes at once
    except StopIteration:
        pass
    return phone
