"""Training, evaluation helpers and export for the eri-stream model (the ABAW5 ERI recipe) in PyTorch.

Everything here runs on Debian's python3-torch and python3-numpy: nothing that pip would download.
"""

__version__ = "0.1.0"
