"""Runs a function in a child process started by statebus.spawn_function."""

import importlib
import pickle
import sys
import traceback


def main():
    module_name, qualname, args, kwargs = pickle.loads(bytes.fromhex(sys.argv[1]))
    try:
        target = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
        target(*args, **kwargs)
    except SystemExit as end:  # sys.exit(n) in the function: its status, as a program's
        sys.stdout.flush()
        raise end
    except BaseException:  # noqa: B902  (everything is reported, then the child fails)
        traceback.print_exc()
        sys.stderr.flush()
        sys.exit(1)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
