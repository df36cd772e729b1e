"""Where metrics aggregate: one protocol (`base.Store`), several stores (memory, file, host,
Redis); `choice` picks one from the settings, `base` tells a store author what to write."""
