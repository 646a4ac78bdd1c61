module github.com/shelfcommerce/shelf

go 1.26
