"""pydicom plugin modules shipped by the core: placeholders and the built-in standard-codec adapters."""
