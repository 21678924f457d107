"""What is inside an uploaded file, independent of storage and of the database:

    sniff    the type from the bytes (libmagic), never from the name or the client's claim
    images   decode and re-encode raster images with Pillow (metadata stripped, orientation
             applied, thumbnails), refusing bombs, truncated files and polyglots
    clamd    stream a file to a clamd daemon (INSTREAM) and read its verdict
"""
