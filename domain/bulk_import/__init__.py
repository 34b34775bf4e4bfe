"""Bulk import from CSV/XLSX of commissioning lists, lots, products, shipments and
receipts: every row checked before anything is written, a per-row error report, chunked
writes through the same use cases as the API, resumable without double writes (`jobs`
says how).

    files           reading CSV/XLSX within limits
    problems        row problem codes, their zh-CN/English sentences, typed cell reads
    plan            the `Kind` protocol: plan (check) and send (write) a chunk
    commissioning   serials or quantities per lot
    lots            lots (and a lot-tracked lot's quantity)
    products        product master data (`domain.master_import`)
    shipments       shipments by the file's reference (`domain.items.ship`)
    receipts        receipts of inbound shipments (`domain.items.receive`)
    jobs            the job: create, run, resume, view
    report          the error file (CSV/XLSX with an error column)
"""
