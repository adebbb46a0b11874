module example.com/pgolua-demo

go 1.21
