module example.com/alchdb-go

go 1.19
