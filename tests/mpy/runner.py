# MicroPython-side test runner: imports one test module, runs its test_* functions.
# Run by tests/test_micropython.py as: micropython tests/mpy/runner.py MODULE
# Prints "PASS name" or "FAIL name: error" per test; exits 1 when any failed.
import sys


def _run(modname):
    mod = __import__(modname)
    names = sorted(n for n in dir(mod) if n.startswith("test_"))
    failed = 0
    for name in names:
        try:
            getattr(mod, name)()
            print("PASS", name)
        except Exception as e:  # report every failure, keep running the others
            failed += 1
            print("FAIL", name + ":", repr(e))
            sys.print_exception(e)
    print("RESULT", len(names), "tests,", failed, "failed")
    if not names:
        print("FAIL", modname, "has no test_* functions")
        return 1
    return failed


if __name__ == "__main__":
    sys.exit(1 if _run(sys.argv[1]) else 0)
