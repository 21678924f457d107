"""Placeholder router, replaced by the chat door."""
from fastapi import APIRouter

router = APIRouter()
