"""The kiosk's touchscreen (Kivy): a thin app, one module and one .kv file per
screen. Kivy reads the command line and writes a console log when first
imported; neither is wanted in a product whose command line is ``sallyport``.
"""

import os

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
os.environ.setdefault("KIVY_NO_FILELOG", "1")
