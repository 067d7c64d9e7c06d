"""The shopper's own service record (服务记录): who may see it (owner) and how it reads (view)."""
