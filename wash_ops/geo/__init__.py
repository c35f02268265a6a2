"""Belgian postcodes and distances."""
