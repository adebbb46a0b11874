module example.com/devirt

go 1.21
