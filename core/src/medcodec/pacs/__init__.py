"""PACS integration (``medcodec[pacs]``): the storage gateway, outbound negotiation, the forward queue, the
Orthanc REST client and archive recompression. Importing this package imports neither pynetdicom nor requests.
"""
