package handlers

import "github.com/labstack/echo/v4"

func (a *API) registerCatalog(e *echo.Echo) {}
