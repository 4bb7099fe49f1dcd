"""A photo, as large as the screen allows."""

from __future__ import annotations

from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen


class PhotoScreen(Screen):
    source = StringProperty("")
