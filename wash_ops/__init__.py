"""wash-ops domain core: models and services. Imports neither Flask, pymodbus nor paho."""
