import sys

from bench.attention.maps import main

sys.exit(main())
