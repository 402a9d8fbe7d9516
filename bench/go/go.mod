module goro.bench/peer

go 1.21
