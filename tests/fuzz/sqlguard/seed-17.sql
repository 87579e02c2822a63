SELECT 1 -- harmless
; DROP TABLE customers