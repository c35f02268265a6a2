"""Login, logout, registration and the role checks every page goes through."""
