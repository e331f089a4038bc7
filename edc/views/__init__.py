"""Thin blueprints: parse the request, call one service with the actor first, render."""
