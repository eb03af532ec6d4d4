"""`python -m trellis_demo OUT_DIR [options]`: the same as `trellis generate`."""

from trellis_demo.cli import app

app(prog_name="python -m trellis_demo")
