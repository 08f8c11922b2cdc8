# Small assertion helpers for MicroPython-side tests (no unittest on the device).


def eq(got, want, what=""):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))


def near(got, want, tol, what=""):
    if abs(got - want) > tol:
        raise AssertionError("%s: got %r, want %r +- %r" % (what, got, want, tol))


def raises(exc_type, fn, *args):
    try:
        fn(*args)
    except exc_type as e:
        return e
    raise AssertionError("%s not raised by %r" % (exc_type.__name__, fn))
