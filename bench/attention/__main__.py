from amplify.cli import entry
from bench.attention.maps import main

entry(main)
