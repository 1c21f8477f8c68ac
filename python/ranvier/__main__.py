"""python -m ranvier --cmake-prefix-path | --version"""
import sys

import ranvier


def main(argv):
    if "--cmake-prefix-path" in argv:
        print(ranvier.cmake_prefix_path)
        return 0
    if "--version" in argv:
        print(ranvier.__version__)
        return 0
    print("usage: python -m ranvier [--cmake-prefix-path | --version]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
