# A heap whose free part is in pieces, as a long-running firmware's is: for tests that
# a path needs no block larger than the pieces (and, by no_piece, that the heap really
# was in pieces, so such a test can fail).
import gc


class InPieces:
    """`with InPieces(piece):` the body runs in a heap fragmented by fragment(piece);
    on leaving it the heap is whole again."""

    def __init__(self, piece):
        self.piece = piece
        self.held = None

    def __enter__(self):
        self.held = fragment(self.piece)
        return self

    def __exit__(self, *exc):
        self.held = None
        gc.collect()
        return False


def fragment(piece):
    """Fill the heap with `piece`-byte blocks and every gap left with one-block tuples,
    then free every other block: the free heap is in holes of about `piece` bytes
    (without the plugs a hole could join a gap left from before). Returns what holds
    the rest: drop it and collect to undo."""
    held = [None] * 20000
    plugs = [None] * 20000
    gc.collect()
    n = 0
    try:
        while n < len(held):
            held[n] = bytearray(piece)
            n += 1
    except MemoryError:
        pass
    k = 0
    try:
        while k < len(plugs):
            plugs[k] = (k,)
            k += 1
    except MemoryError:
        pass
    assert n > 100 and k < len(plugs), "heap not filled (%d pieces, %d plugs)" % (n, k)
    for i in range(0, n, 2):
        held[i] = None
    gc.collect()
    return held, plugs


def no_piece(size):
    """True if the heap has no free block of `size` bytes."""
    try:
        bytearray(size)
    except MemoryError:
        return True
    return False
