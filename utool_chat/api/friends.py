"""Placeholder router, replaced by the friends door."""
from fastapi import APIRouter

router = APIRouter()
